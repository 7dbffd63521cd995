"""Auto-captioning: captioners write each image's captions, a CLIP scorer scores them (`run.py`)."""
