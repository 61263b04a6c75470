// The Flyte pod-webhook peer: a small harness of ours that imports flytepropeller's webhook package
// unchanged, so our webhook's output can be compared with Flyte's own. Built by scripts/build-peers.sh.
module tasksecrets.dev/peers/flyte_webhook

go 1.24

require (
	github.com/flyteorg/flyte/flyteidl v1.16.0
	github.com/flyteorg/flyte/flyteplugins v1.16.0
	github.com/flyteorg/flyte/flytepropeller v1.16.0
	github.com/flyteorg/flyte/flytestdlib v1.16.0
	k8s.io/api v0.28.4
	sigs.k8s.io/controller-runtime v0.16.3
	sigs.k8s.io/yaml v1.4.0
)

// Flyte's submodules require each other at placeholder versions with `replace => ../flyteidl`, which
// only resolve inside Flyte's own tree: point each at the tag of the same release instead.
replace (
	github.com/flyteorg/flyte/flyteidl => github.com/flyteorg/flyte/flyteidl v1.16.0
	github.com/flyteorg/flyte/flyteplugins => github.com/flyteorg/flyte/flyteplugins v1.16.0
	github.com/flyteorg/flyte/flytestdlib => github.com/flyteorg/flyte/flytestdlib v1.16.0
)

// flytepropeller v1.16.0's webhook code compiles against controller-runtime 0.16 and the Kubernetes
// 0.28 libraries; without these pins minimal version selection may pick newer, incompatible ones.
// Unverified here (the module proxy refused github.com/flyteorg/flyte/*): take the exact versions
// from `go list -m all` of flytepropeller@v1.16.0 when go.sum is first generated.
replace (
	k8s.io/api => k8s.io/api v0.28.4
	k8s.io/apimachinery => k8s.io/apimachinery v0.28.4
	k8s.io/client-go => k8s.io/client-go v0.28.4
	sigs.k8s.io/controller-runtime => sigs.k8s.io/controller-runtime v0.16.3
)
