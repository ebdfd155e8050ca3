"""Qt-free building blocks shared by the models, the engine, the CLI and the GUI."""
