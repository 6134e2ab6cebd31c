"""Prediction: blocks and chips, the predictor, probability rasters, polygons."""
