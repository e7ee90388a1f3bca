"""Application settings (demo: deliberately leaks credentials)."""

DEBUG = False

# A GitHub personal access token committed by mistake.
GITHUB_TOKEN = "ghp_R8fT2vLq9XwZ4mN7pK3sD6hJ1cB5yA0eUi2o"

# An AWS access key pair.
AWS_ACCESS_KEY_ID = "AKIAQ7RW3LMZK2XPT4NV"
AWS_SECRET_ACCESS_KEY = "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"
