// Replaced by the reports module.
