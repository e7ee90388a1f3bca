# The next token is a documented test value.
TEST_TOKEN = "ghp_z91tzLXiYrokk4zpavHOXPQnbGi9gKVHijEU"  # gitleaks:allow
REAL_TOKEN = "ghp_fw80MecQept5afS7bvMp3jfcD8uzhNN3KnQF"
