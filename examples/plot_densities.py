"""Gallery: fitted densities in one dimension, and a pairs grid in four.

With one feature, ``result.plot.density()`` is a histogram with the mixture density and every
weighted component. With more than two features it is a pairs grid: scatter plots with each
component's ellipses off the diagonal, histograms with the marginal densities on it.
"""

import mixem

faithful = mixem.datasets.load_faithful()
waiting = faithful[["waiting"]]
one_d = mixem.MixtureModel(mixem.GaussianFull, 2, random_state=0).fit(waiting)
print(one_d)
one_d.plot.density().set_title("Old Faithful waiting times, two components")

iris = mixem.datasets.load_iris()
four_d = mixem.MixtureModel(mixem.GaussianFull, 2, random_state=0).fit(iris)
print(four_d)
four_d.plot.density().suptitle("Iris, two full-covariance components", y=1.01)
