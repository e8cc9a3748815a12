"""``python -m mixem``: fit Old Faithful over K = 1..6 for the four Gaussian families.

Prints a table of log-likelihood and BIC per (family, K) and the model BIC chooses. The
command-line study interface will replace this entry point.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence

import mixem


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demonstration study and print its table; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if args:
        print(f"mixem: unexpected arguments {' '.join(args)!r}; try --help", file=sys.stderr)
        return 2
    X = mixem.datasets.load_faithful()
    families = [
        ("full", mixem.GaussianFull),
        ("diagonal", mixem.GaussianDiagonal),
        ("spherical", mixem.GaussianSpherical),
        ("tied", mixem.GaussianTied),
    ]
    print(f"Old Faithful: {X.shape[0]} rows, features {', '.join(X.columns)}")
    print(f"{'family':<10} {'K':>2} {'loglik':>11} {'params':>6} {'BIC':>10}  note")
    best = None
    for name, family in families:
        for k in range(1, 7):
            model = mixem.MixtureModel(family, n_components=k, n_init=5, random_state=0)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    result = model.fit(X)
                except mixem.FitError as err:
                    print(f"{name:<10} {k:>2} {'failed':>11} {'':>6} {'':>10}  {err}")
                    continue
            note = "; ".join(sorted({w.category.__name__ for w in caught}))
            print(
                f"{name:<10} {k:>2} {result.loglik:>11.3f} {result.n_parameters:>6} "
                f"{result.bic:>10.3f}  {note}"
            )
            if best is None or result.bic < best[2].bic:
                best = (name, k, result)
    assert best is not None
    name, k, result = best
    print(f"\nChosen by BIC (lower is better): {name}, K = {k}\n")
    print(result.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
