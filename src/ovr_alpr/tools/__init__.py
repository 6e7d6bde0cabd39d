"""Model tools: export, calibration sets, validation, the models table, the GPU check."""
