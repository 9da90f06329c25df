"""Post-deployment monitoring: readers' confirmations, performance per model version and
subgroup, input drift against the training distribution, and the operational alerts and reports
that tell the hospital when a model stops doing what it did at installation."""
