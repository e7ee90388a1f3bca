package scanners

import "strings"

// PullRequestTarget is the branch a pull-request build merges into, as the
// CI system names it: Azure Pipelines' SYSTEM_PULLREQUEST_TARGETBRANCH
// (refs/heads/main), else GitHub Actions' GITHUB_BASE_REF (main), space
// around it trimmed. from is the variable it came from; both are "" when
// neither is set (not a pull-request build). It is the one place the
// target branch is read from the environment: the repository policy's
// source, the secrets engine's --since and the pull request's comments ask
// it.
func PullRequestTarget(getenv func(string) string) (branch, from string) {
	for _, v := range [...]string{"SYSTEM_PULLREQUEST_TARGETBRANCH", "GITHUB_BASE_REF"} {
		if b := strings.TrimSpace(getenv(v)); b != "" {
			return b, v
		}
	}
	return "", ""
}
