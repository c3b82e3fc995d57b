"""Development tooling, not part of the runtime: the demo, the embedded broker and Redis, the
evaluation and its variant generator. Installed with the extras `[embedded]` and `[eval]`; not
copied into the image, and no runtime module imports it (tests/test_layout.py checks both).
"""
