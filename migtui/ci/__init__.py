"""What the GitHub Action (``action.yml``) runs: the jobs, their reports in the formats CI wants, the PR comment."""
