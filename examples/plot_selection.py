"""Gallery: a model-selection study on Old Faithful and the chosen model over the data.

``selection.plot.criterion()`` draws BIC against K, one line per family, with the chosen model
circled (as mclust's BIC plot, but lower is better). ``selection.plot.density()`` shows the
chosen fit: the rows coloured by component, 1- and 2-sd covariance ellipses and the mixture's
density contours.
"""

import matplotlib.pyplot as plt

import mixem

X = mixem.datasets.load_faithful()
study = mixem.select(X, range(1, 6), random_state=0, progress=False)
print(study.summary())

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
study.plot.criterion(ax=left)
study.plot.density(ax=right)
right.set_title(f"chosen: {study.best_key[0]}, K = {study.best_key[1]}")
fig.tight_layout()
