"""Prompt texts and their variants, as data (Jinja templates, StrictUndefined).

Index 0 of each list is the canonical text; perturbations pick among the others.
"""

from __future__ import annotations

from jinja2 import Environment, StrictUndefined

_JINJA = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)

SYSTEM_VARIANTS = (
    "You are a software engineer working in a repository checked out at /testbed. "
    "Use the tools to explore the code, make a change that resolves the issue, and call "
    "`submit` when you are done. Think before every action.",
    "You are an autonomous coding agent. The repository is at /testbed. Investigate the "
    "problem with the tools provided, edit the source to fix it, then submit.",
    "Act as a careful maintainer of the project in /testbed. Reproduce the problem, fix it "
    "with a minimal change to the non-test code, and finish by calling submit.",
    "You can run commands and edit files in /testbed. Resolve the user's issue. Reason step "
    "by step after each tool result; submit once the fix is in place.",
)

USER_VARIANTS = (
    "Please resolve the following issue in the repository at /testbed.\n\n"
    "<issue>\n{{ problem }}\n</issue>",
    "A user reported this problem:\n\n{{ problem }}\n\nFix it in /testbed.",
    "Issue ({{ language }} project in /testbed):\n---\n{{ problem }}\n---\nMake the code behave as the issue expects.",
    "{{ problem }}\n\nThe repository lives in /testbed. Change the code so the issue above is resolved.",
)

TOOL_NAME_VARIANTS = {
    "bash": ("bash", "shell", "run_command", "execute"),
    "view": ("view", "read_file", "open_file", "cat"),
    "replace": ("replace", "str_replace", "edit_file", "apply_edit"),
    "search": ("search", "grep", "find_in_files", "code_search"),
    "submit": ("submit", "finish", "done", "submit_solution"),
}

TOOL_DESCRIPTION_VARIANTS = {
    "bash": ("Execute a shell command inside the repository and get its combined output.",
             "Runs bash in /testbed. Returns stdout, stderr and the exit code."),
    "view": ("Print the contents of a file, with line numbers.",
             "Open a source file and read it (optionally a line range)."),
    "replace": ("Edit a file by swapping one unique snippet for another.",
                "Substitute text: the old snippet must appear exactly once in the file."),
    "search": ("Find lines matching a regex across the code base.",
               "grep the repository for a pattern and show file:line matches."),
    "submit": ("Finish the task and hand in the current state of the repository.",
               "Call when the fix is complete; no further actions are possible."),
}

PARAM_NAME_VARIANTS = {
    "command": ("command", "cmd", "script"),
    "path": ("path", "file", "filename"),
    "old": ("old", "old_str", "search_text"),
    "new": ("new", "new_str", "replacement"),
    "pattern": ("pattern", "regex", "query"),
    "start": ("start", "from_line", "start_line"),
    "end": ("end", "to_line", "end_line"),
}

TRANSIENT_ERRORS = (
    "Error: the sandbox is temporarily unavailable, please retry.",
    "Error: resource temporarily busy (EAGAIN). Try the call again.",
    "Error: connection to the workspace was reset; the call did not run.",
)


def render(template: str, **values: str) -> str:
    """Render one prompt template; a missing value is an error, never an empty string."""
    return _JINJA.from_string(template).render(**values)
