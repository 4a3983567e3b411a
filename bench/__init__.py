"""`make bench`: Conveyor's benchmark suite. Figures are compared within one run, as ratios,
because the machines are noisy; each run prints one table and writes it to bench/results/."""
