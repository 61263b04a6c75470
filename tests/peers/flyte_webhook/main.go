// Command flyte-webhook runs pods through Flyte's own pod-webhook code, imported unchanged from
// flytepropeller, so that tests can compare what our webhook does with what Flyte's does.
//
// Mode mutate (the only one so far):
//
//	flyte-webhook mutate --config webhook.yaml [--secrets-dir DIR] < pods.jsonl
//
// reads one Pod (JSON) per input line and prints one JSON line per pod: {"pod": <mutated pod>} or
// {"error": "<message>"}. The config file is in Flyte's shape: its `webhook:` section is decoded onto
// flytepropeller's webhook config (Flyte's defaults for what it leaves out), its `secrets:` section
// onto the Global secret manager's config. Global secrets come from this process's environment
// (`<env-prefix><GROUP>_<KEY>`) and from files `<secrets-prefix>/<group>/<key>`, as Flyte reads them;
// --secrets-dir overrides `secrets-prefix`.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/flyteorg/flyte/flytepropeller/pkg/controller/nodes/task/secretmanager"
	"github.com/flyteorg/flyte/flytepropeller/pkg/webhook"
	"github.com/flyteorg/flyte/flytepropeller/pkg/webhook/config"
	"github.com/flyteorg/flyte/flytestdlib/promutils"
)

// maxPodLine bounds one input line: a pod is far below the API server's 1.5 MiB object limit.
const maxPodLine = 4 << 20

// flyteConfigFile is the part of a Flyte configuration file the webhook reads.
type flyteConfigFile struct {
	Webhook json.RawMessage `json:"webhook"`
	Secrets json.RawMessage `json:"secrets"`
}

// outcome is one output line.
type outcome struct {
	Pod   *corev1.Pod `json:"pod,omitempty"`
	Error string      `json:"error,omitempty"`
}

func main() {
	if len(os.Args) < 2 || os.Args[1] != "mutate" {
		fmt.Fprintln(os.Stderr, "usage: flyte-webhook mutate --config FILE [--secrets-dir DIR] < pods.jsonl")
		os.Exit(2)
	}
	if err := runMutate(os.Args[2:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "flyte-webhook:", err)
		os.Exit(1)
	}
}

func runMutate(args []string, in io.Reader, out io.Writer) error {
	flags := flag.NewFlagSet("mutate", flag.ContinueOnError)
	configPath := flags.String("config", "", "Flyte-shaped config file (YAML or JSON) with a webhook: section")
	secretsDir := flags.String("secrets-dir", "", "directory of Global secret files <group>/<key> (overrides secrets.secrets-prefix)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *configPath == "" {
		return errors.New("--config FILE is required")
	}
	cfg, err := loadConfig(*configPath, *secretsDir)
	if err != nil {
		return err
	}
	ctx := context.Background()
	mutator, err := webhook.NewSecretsMutator(ctx, cfg, promutils.NewTestScope())
	if err != nil {
		return fmt.Errorf("building Flyte's SecretsMutator: %w", err)
	}
	return mutateLines(ctx, mutator, in, out)
}

// loadConfig decodes the file's webhook: section over Flyte's defaults and its secrets: section
// into the Global secret manager's registered config, which NewSecretsMutator reads.
func loadConfig(path, secretsDir string) (*config.Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	asJSON, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("config %s is not YAML: %w", path, err)
	}
	var file flyteConfigFile
	if err := json.Unmarshal(asJSON, &file); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	cfg := *config.DefaultConfig
	if len(file.Webhook) > 0 {
		if err := json.Unmarshal(file.Webhook, &cfg); err != nil {
			return nil, fmt.Errorf("config %s, section webhook: %w", path, err)
		}
	}
	globalCfg := secretmanager.GetConfig()
	if len(file.Secrets) > 0 {
		if err := json.Unmarshal(file.Secrets, globalCfg); err != nil {
			return nil, fmt.Errorf("config %s, section secrets: %w", path, err)
		}
	}
	if secretsDir != "" {
		globalCfg.SecretFilePrefix = secretsDir
	}
	return &cfg, nil
}

// mutateLines answers every input line, a bad one included, so outputs stay aligned with inputs.
func mutateLines(ctx context.Context, mutator *webhook.SecretsMutator, in io.Reader, out io.Writer) error {
	scanner := bufio.NewScanner(in)
	scanner.Buffer(make([]byte, 0, 64<<10), maxPodLine)
	encoder := json.NewEncoder(out)
	for lineNo := 1; scanner.Scan(); lineNo++ {
		if err := encoder.Encode(mutateOne(ctx, mutator, scanner.Bytes(), lineNo)); err != nil {
			return err
		}
	}
	if err := scanner.Err(); err != nil {
		return fmt.Errorf("reading pods from stdin: %w", err)
	}
	return nil
}

func mutateOne(ctx context.Context, mutator *webhook.SecretsMutator, line []byte, lineNo int) outcome {
	pod := &corev1.Pod{}
	if err := json.Unmarshal(line, pod); err != nil {
		return outcome{Error: fmt.Sprintf("line %d: not a Pod in JSON: %v", lineNo, err)}
	}
	mutated, _, denied := mutator.Mutate(ctx, pod)
	if denied != nil {
		return outcome{Error: denied.Result.Message}
	}
	return outcome{Pod: mutated}
}
