"""Mine stage: sources that turn repositories into candidates, and the filters between."""
