"""The one Django app: projects, imagery, landslide inventories, models and jobs."""
