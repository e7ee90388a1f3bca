package client

// Fixture: fake tokens in Go source.
const githubToken = "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"

var gitlabToken = "glpat-BPBTrbEpvpDbnIIAp00z"

func endpoint() string { return "https://api.example.test" }
