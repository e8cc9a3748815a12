"""Gallery: diagnostics of a fit, and the plots behind them.

``result.diagnostics()`` checks convergence, degenerate and near-singular components,
classification uncertainty, the normality of every cluster and the standard errors of every
parameter, and says in a sentence what it flags. The plots: the convergence trace, the
classification uncertainty of every row, a QQ plot of squared Mahalanobis distances against
chi-squared(d) per component, and every parameter with its weighted-bootstrap interval.
"""

import mixem

X = mixem.datasets.load_faithful()
result = mixem.MixtureModel(mixem.GaussianTied, 3, random_state=0).fit(X)
report = result.diagnostics(draws=100, random_state=0)
print(report)

result.plot.trace()
result.plot.uncertainty()
result.plot.qq()
result.plot.intervals(table=report.standard_errors)
