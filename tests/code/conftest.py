# The fixtures are sources of other projects (one is a pytest file); never collect them.
collect_ignore_glob = ["fixtures/*"]
