"""Quick start: a two-component Gaussian mixture on the Old Faithful geyser data.

Fit, read the result, predict, score, sample, and save/load without pickle. Runs in about a
second and needs no display.
"""

import tempfile
from pathlib import Path

import numpy as np

import mixem

# %% Data: 272 eruptions, columns "eruptions" and "waiting" (minutes), as a DataFrame.
X = mixem.datasets.load_faithful()
print(X.describe().round(2))

# %% Fit: the model is a specification; fit() returns an immutable MixtureResult.
model = mixem.MixtureModel(mixem.GaussianFull, n_components=2, n_init=3, random_state=0)
result = model.fit(X)
print(result)
print(result.summary())

# %% Attributes: parameters, fit quality and criteria (lower BIC/AIC/ICL is better).
print("feature names:", result.feature_names)
print("weights:", result.weights.round(3))
print("means:\n", result.means.round(2))
print("covariances shape:", result.covariances.shape)  # (K, d, d), like scikit-learn
print(f"loglik={result.loglik:.2f}  BIC={result.bic:.2f}  AIC={result.aic:.2f}")
print(f"converged={result.converged} after {result.n_iter} iterations")
print(result.trace.to_dataframe().tail(3))

# %% Predict and score new rows (a DataFrame or an array with the same columns).
new = np.array([[2.0, 55.0], [4.5, 80.0]])
print("labels:", result.predict(new))
print("probabilities:\n", result.predict_proba(new).round(4))
print("log-density per row:", result.score_samples(new).round(3))
print(f"mean log-likelihood of the training data: {result.score(X):.4f}")

# %% Sample from the fitted mixture.
draws, labels = result.sample(5, random_state=1)
print("draws:\n", draws.round(2), "\nfrom components", labels)

# %% Save and load: a versioned .npz archive with a JSON header, read without pickle.
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "faithful.npz"
    result.save(path)
    loaded = mixem.load(path)
np.testing.assert_allclose(loaded.score_samples(X), result.score_samples(X))
print("reloaded:", loaded)
