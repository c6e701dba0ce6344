package registry

import (
	"fmt"
	"os"
	"path/filepath"

	"go.podman.io/image/v5/signature"
)

// Policy reads the signature policy: configDir/policy.json, else
// $XDG_CONFIG_HOME/containers/policy.json (~/.config without it), else
// /etc/containers/policy.json, else one that accepts anything, since a
// fresh machine has none and Docker checks no signatures either.
func Policy(configDir string) (*signature.Policy, error) {
	return policyFrom(policyPaths(configDir, os.Getenv))
}

func policyPaths(configDir string, getenv func(string) string) []string {
	var paths []string
	if configDir != "" {
		paths = append(paths, filepath.Join(configDir, "policy.json"))
	}
	cfg := getenv("XDG_CONFIG_HOME")
	if cfg == "" && getenv("HOME") != "" {
		cfg = filepath.Join(getenv("HOME"), ".config")
	}
	if cfg != "" {
		paths = append(paths, filepath.Join(cfg, "containers", "policy.json"))
	}
	return append(paths, "/etc/containers/policy.json")
}

func policyFrom(paths []string) (*signature.Policy, error) {
	for _, p := range paths {
		ok, err := exists(p)
		if err != nil {
			return nil, fmt.Errorf("read signature policy: %w", err)
		}
		if !ok {
			continue
		}
		pol, err := signature.NewPolicyFromFile(p)
		if err != nil {
			return nil, fmt.Errorf("read signature policy %s: %w", p, err)
		}
		return pol, nil
	}
	return &signature.Policy{Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}}, nil
}
