# Writes mixem/datasets/galaxies.csv from R's MASS::galaxies (82 velocities, km/s), values as
# MASS has them (including the typo at the 78th value, 26690 for 26960; see ?MASS::galaxies).
# Run from the repository root:  Rscript benchmarks/export_galaxies.R
library(MASS)
write.csv(data.frame(velocity = as.numeric(galaxies)), "mixem/datasets/galaxies.csv",
          row.names = FALSE)
