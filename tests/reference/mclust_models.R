# Reference numbers of mclust's Gaussian models for tests/components/test_gaussian_models.py.
#
#   Rscript tests/reference/mclust_models.R > tests/reference/mclust_models.json
#
# Run from the repository's root with R and mclust installed (apt-get install r-base-core
# r-cran-mclust); the tests read the JSON and never need R. For every bundled dataset (the 1-D
# galaxies velocities take mclust's models "E" and "V"; the others its fourteen):
#   partitions   hclass(hc(X), 1:9): the initial partitions of Mclust's default start
#                (hierarchical agglomeration under VVV on the SVD-scaled data); for the 1-D
#                set qclass(X, k), mclustBIC's quantile classes
#   fits         per model and K = 1..9: me() from that partition with tight tolerances
#                (EM's relative log-likelihood change 1e-11, the iterative M-steps' 1e-13),
#                its log-likelihood, iterations, return code and nMclustParams (and for
#                VVE the converged parameters)
#   step         per model, K = 3: the M-step from the partition (mstep), the log-likelihood
#                at those parameters (estep), and the parameters of one more M-step from the
#                E-step's responsibilities: one EM step from fixed parameters
# Matrices are written in R's column-major order with their dimensions ("dim"); the tests
# reshape them with order="F".

suppressPackageStartupMessages({
  library(mclust)
  library(jsonlite)
})

control <- emControl(tol = c(1e-11, 1e-13), itmax = c(100000L, 100000L))
# The one-step check compares parameters, which an objective criterion of 1e-13 leaves about
# 3e-7 from the optimum (the objective is flat there): the M-steps run until nothing changes.
step_control <- emControl(tol = c(1e-11, 0), itmax = c(100000L, 20000L))
step_k <- 3L

read <- function(name, drop = NULL) {
  X <- read.csv(file.path("mixem", "datasets", paste0(name, ".csv")))
  if (!is.null(drop)) X <- X[, setdiff(names(X), drop), drop = FALSE]
  as.matrix(X)
}

datasets <- list(
  faithful = read("faithful"),
  iris = read("iris", "species"),
  banknote = read("banknote", "Status"),
  galaxies = read("galaxies")
)

array_json <- function(a) list(dim = if (is.null(dim(a))) length(a) else dim(a),
                                values = as.numeric(a))

parameters_json <- function(fit) {
  p <- fit$parameters
  list(pro = as.numeric(p$pro),
       mean = array_json(p$mean),
       sigma = if (!is.null(p$variance$sigma)) array_json(p$variance$sigma)
               else array_json(p$variance$sigmasq))
}

out <- list(
  about = paste(
    "Made by tests/reference/mclust_models.R (see its header) with",
    R.version.string, "and mclust", as.character(packageVersion("mclust"))
  ),
  control = list(tol = control$tol, itmax = control$itmax,
                 step_tol = step_control$tol, step_itmax = step_control$itmax),
  datasets = list()
)

for (name in names(datasets)) {
  X <- datasets[[name]]
  d <- ncol(X)
  oned <- d == 1
  models <- if (oned) c("E", "V") else mclust.options("emModelNames")
  data <- if (oned) as.numeric(X) else X
  # One dimension: mclust starts from quantile classes (qclass), as mclustBIC does.
  partitions <- if (oned) sapply(1:9, function(k) mclust:::qclass(data, k)) else hclass(hc(data), 1:9)
  entry <- list(n = nrow(X), d = d, models = models,
                partitions = lapply(1:9, function(k) as.integer(partitions[, k])),
                fits = list(), step = list())
  for (m in models) {
    fits <- list()
    for (k in 1:9) {
      z <- unmap(partitions[, k])
      fit <- me(data, modelName = m, z = z, control = control, warn = FALSE)
      code <- attr(fit, "returnCode")
      fits[[k]] <- list(
        K = k,
        loglik = if (is.na(fit$loglik)) NULL else fit$loglik,
        iterations = if (length(attr(fit, "info"))) attr(fit, "info")[[1]] else NULL,
        return_code = if (is.null(code)) 0L else code,
        n_parameters = nMclustParams(m, d, k),
        # VVE's converged parameters: its M-step does not maximise (see the tests), so EM
        # from them climbs on.
        parameters = if (m == "VVE" && !is.na(fit$loglik)) parameters_json(fit) else NULL
      )
    }
    entry$fits[[m]] <- fits
    z <- unmap(partitions[, step_k])
    first <- mstep(data, modelName = m, z = z, control = step_control, warn = FALSE)
    e <- estep(data, modelName = m, parameters = first$parameters, warn = FALSE)
    second <- mstep(data, modelName = m, z = e$z, control = step_control, warn = FALSE)
    entry$step[[m]] <- list(
      K = step_k,
      first = parameters_json(first),
      loglik = e$loglik,
      second = parameters_json(second)
    )
  }
  out$datasets[[name]] <- entry
}

cat(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", pretty = FALSE), "\n")
