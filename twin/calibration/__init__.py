"""The twin against real boards: measure, calibrate, validate.

- ``board_bench``: the harness that times networks on the board it runs on (torch, numpy and
  pydantic only: no simpy, pandas or scikit-learn on the board);
- ``measurement_csv``: the one CSV format for latencies measured on hardware;
- ``calibrate``: fit a SKU file's latency parameters to a measurement file;
- ``sku_file``: write a calibrated SKU as YAML;
- ``validate``: predicted against measured latency, row by row, calibration and held-out networks.
"""
