"""The window's docks: Setup (model, data, forms, Train), Runs (the workspace and recipe files),
Lesson (the lesson controller and its panel)."""
