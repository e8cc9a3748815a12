# The mclust side of benchmarks/bench_select.py; called by it, one task per process.
#
#   Rscript benchmarks/mclust_select.R DATA.csv GMAX TASK
#
# DATA.csv has a header row and numeric columns. TASK is one of
#   context  R, mclust and BLAS versions (no data needed: DATA.csv may be "-")
#   four     Mclust(X, G = 1:GMAX, modelNames = c("VVV", "VVI", "VII", "EEE")), the four models
#            of mixem's default select (full, diag, spherical, tied); for 1-D data c("V", "E")
#   all      Mclust(X, G = 1:GMAX), all of mclust's models (14 for d > 1)
#   boot     MclustBootstrap(Mclust(X, G = 3, modelNames = "EEE"), nboot = 200, type = "wlbs")
# Times are elapsed seconds from system.time() around the call only, after the data are read
# and mclust is loaded, so R's start-up is not in them. BLAS threads: set OMP_NUM_THREADS and
# OPENBLAS_NUM_THREADS in the environment (the benchmark does).
#
# Output: tab-separated lines "key<TAB>value..." on stdout:
#   time <seconds>; best <model> <G>; cell <model> <G> <loglik> (one per fitted cell: the
#   log-likelihood is (BIC + npar log n) / 2, from mclust's BIC, larger is better there).

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 3) stop("usage: Rscript mclust_select.R DATA.csv GMAX TASK")
suppressPackageStartupMessages(library(mclust))
task <- args[3]
out <- function(...) cat(paste(..., sep = "\t"), "\n", sep = "")

if (task == "context") {
  out("R", R.version.string)
  out("mclust", as.character(packageVersion("mclust")))
  la <- La_library()
  out("BLAS", if (length(extSoftVersion()["BLAS"]) && nzchar(extSoftVersion()["BLAS"]))
    extSoftVersion()["BLAS"] else "unknown")
  out("LAPACK", if (nzchar(la)) la else "unknown")
  quit(save = "no")
}

X <- as.matrix(read.csv(args[1]))
n <- nrow(X)
d <- ncol(X)
G <- seq_len(as.integer(args[2]))

cells <- function(fit) {
  bic <- fit$BIC
  for (m in colnames(bic)) {
    for (g in rownames(bic)) {
      b <- bic[g, m]
      if (!is.na(b)) {
        npar <- nMclustParams(m, d, as.integer(g))
        out("cell", m, g, sprintf("%.10f", (b + npar * log(n)) / 2))
      }
    }
  }
}

if (task == "four" || task == "all") {
  models <- if (task == "all") NULL else if (d == 1) c("V", "E") else c("VVV", "VVI", "VII", "EEE")
  t <- system.time(fit <- Mclust(X, G = G, modelNames = models, verbose = FALSE))[["elapsed"]]
  out("time", sprintf("%.4f", t))
  if (is.null(fit)) {
    out("best", "none", "0")
  } else {
    out("best", fit$modelName, fit$G)
    cells(fit)
  }
} else if (task == "boot") {
  fit <- Mclust(X, G = 3, modelNames = if (d == 1) "E" else "EEE", verbose = FALSE)
  t <- system.time(
    boot <- MclustBootstrap(fit, nboot = 200, type = "wlbs", verbose = FALSE)
  )[["elapsed"]]
  out("time", sprintf("%.4f", t))
} else {
  stop("unknown task ", task)
}
