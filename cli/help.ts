// Help texts of the `flotilla` command: one per command (`flotilla <command> --help`,
// `flotilla help <command>`) and the overview (`flotilla --help`).

export const GLOBAL_OPTIONS = `global options:
  --hub <url>                 the hub's HTTP API (default: FLOTILLA_HUB, else http://127.0.0.1:7480
                              when a hub answers there); the CLI learns the hub's Temporal from it
  --hub-token <token>         for a hub API not on loopback (default: FLOTILLA_HUB_TOKEN)
  --ca-file <pem>             trust this CA for an https --hub, besides the system's (default:
                              FLOTILLA_HUB_CA, else <hub-data>/tls/hub.crt): a hub's own CA is
                              its <dataDir>/tls/hub.crt. Verification is never turned off
  --temporal <host:port>      the hub's Temporal, instead of asking the hub (default: FLOTILLA_TEMPORAL)
  --temporal-namespace <ns>   (default: FLOTILLA_TEMPORAL_NAMESPACE, the hub's, or default)
  --task-queue <name>         the hub's task queue (default: the hub's, or flotilla-hub)
  --hub-data <dir>            the hub's data directory, for cluster commands, ConfigMaps and
                              Secrets (default: FLOTILLA_HUB_DATA)
  -n, --namespace <ns>        namespace of the object (default: flux-system); a Flux repository's
                              declarations are in scoped namespaces (flux-system@staging): -n
                              flux-system lists every scope's flux-system
  --scope <name>              the scope of \`flotilla bootstrap --cluster <name>\` (or --name): an
                              object named is that scope's (-n flux-system → flux-system@<name>);
                              a listing without -n takes every namespace of it (also -n '*@<name>')
  -A, --all-namespaces        every namespace (with --scope: every namespace of the scope)
  -o, --output table|json|yaml  output format (default: table)
  -h, --help                  help; \`flotilla <command> --help\` for one command

Color is used only when stdout is a terminal (and NO_COLOR is unset).
exit codes: 0 success; 1 the operation failed or the answer is "no" (not ready, not found,
unreachable, a check failed, a rollout did not succeed); 2 usage error.`;

export const COMMAND_HELP: Readonly<Record<string, string>> = {
  apply: `flotilla apply -f <file|dir>... [--dry-run] [--scope <cluster>]
  Loads GitRepository, Kustomization, HelmRepository, HelmRelease, Provider, Alert, Receiver,
  image automation, ConfigMap and Secret declarations (Flux's YAML) into the hub; idempotent.
  Nothing is applied when any object is invalid (each error names the file, object and field).
  --dry-run validates the files and prints what would be created / configured / unchanged;
  with the hub's Temporal unreachable (CI) it validates only and prints "valid" for each
  object (exit 0 when every object is valid, 1 otherwise). --scope puts them in the
  scope of \`flotilla bootstrap --cluster <cluster>\` (namespace flux-system becomes
  flux-system@<cluster>), e.g. the Secret its --secret-ref names.

examples:
  flotilla apply -f fleet/sources.yaml -f fleet/apps/
  flotilla apply -f fleet/ --dry-run
  flotilla apply -f git-credentials.yaml --scope staging`,
  delete: `flotilla delete kustomization|helmrelease|source git|source helm|image repository|policy|update|provider|alert|receiver <name>
  A deleted Kustomization with prune: true removes its objects from every cluster; a deleted
  HelmRelease is uninstalled from every cluster. The id form works too (alert/<ns>/<name>).

examples:
  flotilla delete kustomization podinfo -n apps
  flotilla delete alert/on-call`,
  get: `flotilla get all | clusters | sources [git|helm [<name>]] | kustomizations [<name>] | helmreleases [<name>]
             | images [repository|policy|update [<name>]] | providers | alerts | receivers [-A] [-o json|yaml]
  all:      the fleet at a glance: clusters (connection, agent and Kubernetes versions),
            sources, Kustomizations and HelmReleases with readiness per cluster, rollouts in
            progress.
  clusters: the registered clusters with their connection state.
            Names carry their namespace (flux-system@staging/apps) whenever the listing spans
            several: -A, --scope, or one namespace in several scopes. -n flux-system@staging
            is that namespace only (a note names the scope's other namespaces); --scope
            staging is all of the scope (its HelmReleases in podinfo@staging too).
  others:   one table per kind (revision, suspended, clusters ready/placed, Ready, message).
  images:   ImageRepositories (tags found by the last scan), ImagePolicies (the latest image)
            and ImageUpdateAutomations (the last commit pushed); see docs/image-automation.md.
  providers, alerts: notifications sent, duplicates, rate-limited, failed and skipped, the
            last error (see docs/notifications.md).
  receivers: each Receiver's webhook path: POST http://<hub --http address><PATH>. The path
            comes from the token in its Secret: the CLI asks the hub's API (--hub), or reads
            the hub's data directory (--hub-data).
  -o json|yaml: sources, Kustomizations, HelmReleases and image objects as Kubernetes prints
            them (apiVersion, kind, metadata, spec, status with RFC 3339 times); several are a
            List ({apiVersion: v1, kind: List, items}), one named object is printed alone. The
            spec is the effective one, normalised: Flux's defaults filled in, durations as Go
            prints them (10m0s), namespaces the hub's (flux-system@staging).

examples:
  flotilla get all -A
  flotilla get all --scope staging
  flotilla get receivers --hub http://hub.example.com:7480
  flotilla get kustomizations -n apps -o yaml
  flotilla get ks -o json | jq '.items[].status.conditions[] | select(.type=="Ready")'
  flotilla get helmrelease podinfo -n apps -o yaml
  flotilla get images policy -n flux-system`,
  reconcile: `flotilla reconcile kustomization|helmrelease <name> [--with-source] [--timeout 5m]
flotilla reconcile source git|helm <name> [--timeout 5m]
flotilla reconcile image repository|policy|update <name> [--timeout 5m]
  Asks for a reconcile now, shows progress and waits for the outcome (exit 1 when not Ready).
  image repository scans the registry now; image update commits and pushes any new images now.

examples:
  flotilla reconcile kustomization podinfo --with-source
  flotilla reconcile image repository app -n flux-system`,
  suspend: `flotilla suspend kustomization|helmrelease|source git|source helm|image repository|image update <name>
  Stops reconciling it (spec.suspend in its declaration does the same) until resumed.`,
  resume: `flotilla resume kustomization|helmrelease|source git|source helm|image repository|image update <name>
  Reconciles it again after flotilla suspend.`,
  bootstrap: `flotilla bootstrap --url <git-url> --path <dir> [--branch main] [--interval 1m] [--secret-ref <name>]
flotilla bootstrap --url <git-url> --path clusters/<name> --cluster <name> [--branch main] [--timeout 5m]
flotilla bootstrap --url <git-url> --path clusters/<dir> --cluster-selector env=prod --name <scope>
  Without --cluster: makes the hub reconcile its own declarations from git: a GitRepository and
  a Kustomization named flotilla-system (namespace flotilla-system) whose build output is
  applied to the hub as declarations (and pruned from it when removed from git).

  With --cluster (or --cluster-selector and --name): reconciles an existing Flux repository's
  cluster directory for that cluster, the way Flux would inside it. Declares GitRepository
  and Kustomization flux-system in hub namespace flux-system@<name> (the scope), placed on the
  cluster(s). Flux objects in the build (Kustomizations, HelmRepositories, HelmReleases, image
  and notification objects) become hub declarations in the same scope and placement, owned by
  the Kustomization whose build declared them (pruned with it); every other object is applied
  to the cluster. Flux's own controllers (gotk-components.yaml) are not installed: the hub does
  their job. Waits until the bootstrap Kustomization is Ready (--timeout).

examples:
  flotilla bootstrap --url https://git.example.com/fleet.git --branch main --path clusters/staging --cluster staging
  flotilla get all --scope staging                       # everything of that cluster's scope
  flotilla get ks -n flux-system@staging
  flotilla explain kustomization/apps --scope staging --cluster staging
  flotilla build clusters/staging --cluster staging     # what the hub would adopt, apply, skip`,
  history: `flotilla history <kind>/<name> [--cluster c] [--since 1h] [--revision r] [-o json|yaml]
  What happened to a declaration, newest last, decoded from its Temporal workflow histories
  (every run, across continue-as-new, and the rollouts it started): source revisions, builds
  with object counts, deliveries per cluster, apply results (created / configured /
  unchanged / pruned), health verdicts, retries, rollout waves, rollbacks, and operator
  actions with who sent them. The workflow and run ids are listed, to open the same events in
  the Temporal UI or with \`temporal workflow show\`.
  kinds: kustomization (ks), helmrelease (hr), gitrepository, helmrepository, cluster
  --cluster   only entries about that cluster (and fleet-wide ones such as builds)
  --since     only entries of the last duration (30m, 2h, 7d)
  --revision  only entries about that revision (a commit prefix, a full revision, a chart version)

examples:
  flotilla history kustomization/podinfo --cluster prod
  flotilla history kustomization/apps/podinfo --since 2h -o json
  flotilla history cluster/prod`,
  events: `flotilla events [--for <kind>/<name>] [--since 1h] [--watch] [-A] [-o json|yaml]
  Recent events of every declaration in the namespace (or of one), merged by time: the same
  entries as flotilla history. --watch keeps printing new ones (as JSON lines with -o json).
  A NAMESPACE column (flux-system@staging) appears with -A, --scope, or when the objects are
  in several namespaces. For an event about no cluster in particular (a fetch, a build), a
  scoped object shows its scope's clusters (where the scope's bootstrap Kustomization is
  placed; @<scope> when none is known); -o json adds scope and scopeClusters.

examples:
  flotilla events -A --since 30m
  flotilla events --for kustomization/podinfo --watch`,
  trace: `flotilla trace <kind>/<name> --cluster c [-n namespace]
  For a Kustomization or HelmRelease: its source and revision, what the cluster runs, when it
  was applied, its health as the agent last reported it at the generation the cluster is to
  run (gone, not available, unknown: no current report, or healthy when that report passed
  its health checks; the owner's Ready is shown apart). For any other object (deployment/podinfo -n apps): which
  declaration delivers it to that cluster (found in the builds the cluster runs), then the same.

examples:
  flotilla trace deployment/podinfo -n apps --cluster prod
  flotilla trace kustomization/podinfo --cluster staging`,
  explain: `flotilla explain <kind>/<name> --cluster c [-o json|yaml]
  Why the cluster is (or is not) at the latest revision, in one sentence with its evidence:
  not registered, not placed, suspended, waiting on dependsOn, build failed, held in a rollout
  wave, waiting for approval, rollout failed and rolled back, agent unreachable, unhealthy or
  not available, removed (uninstalled or pruned from the cluster). Only current evidence
  counts: the cluster's desired state, the agent's last report and the release's history.
  Exit 0 when the agent reported the latest revision READY at the generation the cluster is to
  run (healthy when health checks are on), 1 otherwise.
  A Flux repository's objects are scoped per cluster: kustomization/apps is not found, and
  the message names the scoped ones, the cluster's own first ("did you mean
  flux-system@staging/apps or flux-system@production/apps?"); name one with its scope or
  --scope. Every command naming an object says the same.

examples:
  flotilla explain kustomization/podinfo --cluster prod
  flotilla explain kustomization/apps --cluster staging --scope staging`,
  check: `flotilla check [-o json]
  Verifies the hub (its API's health), Temporal (reachable), the hub's worker (pollers on its
  task queue) and every registered agent (connected). Exit 1 when anything fails.
flotilla check --pre <dir> [--cluster <name>] [--repo-root <dir>] [--kustomize <path>] [-o json]
  Before bootstrapping a Flux repository (like flux check --pre): the kustomize binary is
  found (with its version), every Kustomization under <dir> builds, and nothing in the builds
  is refused; notices and warnings are listed. The analysis of flotilla build, offline: no
  hub, Temporal or cluster is needed. Exit 1 on any error.

examples:
  flotilla check
  flotilla check --pre clusters/staging --cluster staging`,
  build: `flotilla build <path> [--cluster <name>] [--repo-root <dir>] [--kustomize <path>] [-o json|yaml]
  What the hub will adopt, apply and skip for a path of a checked-out Flux repository, as
  flotilla bootstrap --path <path> --cluster <name> would reconcile it: the path is built like
  the Kustomization flux-system (scoped to the cluster; without --cluster, unscoped and placed
  on every cluster), then every Kustomization it declares from the same repository, with its
  own patches, targetNamespace and postBuild variables (substituteFrom reads the ConfigMaps
  and Secrets declared so far), and so on down.
    adopt   a Flux object that becomes a hub declaration (ConfigMaps and Secrets too)
    apply   an object for the placed clusters' agents
    skip    not reconciled: Flux's own controllers and CRDs (gotk-components.yaml), kinds
            Flotilla does not reconcile yet, kustomize build files, bootstrap's own pair
  then notices, warnings and errors (invalid Flux objects, refused kinds, declaration cycles,
  build failures) per Kustomization, and a summary. Nothing touches a cluster or the hub: the
  working tree is copied with the GitRepository's ignore rules (.sourceignore) to a temp dir
  and built with the real kustomize. A Kustomization whose source is another GitRepository is
  listed as not built here. Exit 1 when there is any error.
  --repo-root   the repository root (default: the nearest directory above <path> with .git,
                else the current directory); with it, <path> is taken relative to it
                (without it, relative to the current directory; an absolute <path> as is)
  --kustomize   the kustomize binary (default: FLOTILLA_KUSTOMIZE, else kustomize on PATH)

examples:
  flotilla build clusters/staging --cluster staging
  flotilla build ./fleet/clusters/prod --cluster prod -o json
  flotilla build apps --repo-root ~/src/fleet`,
  rollout: `flotilla rollout status kustomization|helmrelease <name> [--watch] [-o json|yaml]
  Waves, clusters, revision per cluster, health, gates and bake timers of the latest rollout;
  --watch follows it until it finishes (exit 1 when it did not succeed).
flotilla rollout approve|pause|resume|abort|retry kustomization|helmrelease <name> [--reason text]
  approve: lets the wave waiting at its approval gate start
  pause:   holds the rollout before its next step (a batch in flight finishes)
  resume:  continues a paused rollout (after a failed wave with onFailure: pause, accepts it)
  abort:   rolls back every cluster the rollout changed, last changed first
  retry:   runs a failed wave again (onFailure: pause), or starts a rolled-back rollout again
  An action that makes no sense now (approve with no gate waiting, resume when not paused) is
  refused with the reason, exit code 1.

examples:
  flotilla rollout status kustomization podinfo -n apps --watch
  flotilla rollout approve kustomization podinfo -n apps --reason "canary looks good"`,
  helm: `flotilla helm history <release> --cluster <c> [-o json|yaml]
  The release's revisions on that cluster (chart, status, description).
flotilla helm rollback <release> --cluster <c> [--to-revision N]
  Rolls back to revision N (default: the previous deployed one) with its exact manifests; the
  release stays there until its chart version or values change.`,
  cluster: `flotilla cluster add <name> --kubeconfig <file> [--context <ctx>] [--labels k=v,...] [-n flotilla-system]
                 [--hub-address host:port] [--hub-ca <pem>] [--image repo:tag] [--set key=value ...]
                 [--ttl 24h] [--dry-run]
  Joins a cluster to the fleet: asks the hub for a registration token bound to <name> (carrying
  --labels), then installs the agent chart (deploy/charts/flotilla-agent) as release
  flotilla-agent in the namespace with helm (--kubeconfig, --context). The agent dials
  --hub-address (default: the gateway address the hub reports; a loopback or 0.0.0.0 address is
  warned about) and trusts --hub-ca (default: the CA the hub reports). The token reaches helm in
  a 0600 values file, never on a command line. --set passes chart values on to helm (see the
  chart's values.yaml); --image sets image.repository and image.tag.
  Idempotent: it looks first (the release, its values, the agent's credential, the hub's
  record). A registered cluster keeps the token already in its release, and when the chart
  would render what is installed nothing changes ("cluster <name>: unchanged"); otherwise one
  line per change (token created, release installed/upgraded with the objects changed, labels
  set). --dry-run prints those lines without changing anything.
flotilla cluster remove <name> --kubeconfig <file> [--context <ctx>] [-n flotilla-system] [--dry-run]
  Uninstalls the release, deletes the agent's credential (Secret flotilla-agent-credential) and
  revokes the cluster on the hub, spending its unused tokens; objects the agent applied stay.
  Again: "nothing to remove". When the cluster cannot be reached the hub still revokes it, the
  command says how to clean up the cluster by hand and exits 1.
flotilla cluster token create [--ttl 1h] [--labels env=prod,region=eu] [--uses 1] [--cluster <name>]
  Prints a one-time registration token for an agent (the hub keeps only its hash); --uses N
  lets N clusters register with it; --cluster binds it to that cluster's name.
flotilla cluster revoke <name>
  Refuses the cluster's credential from now on (and spends its unused tokens); its agent must
  register again with a new token.
flotilla cluster list [-o json]
  Registered clusters with their labels.
flotilla cluster adopt <name> [--prune-missing]
  After the hub's record of a cluster was lost (Temporal restored or on a new database, the
  cluster actor terminated), its agent refuses the new state and holds what runs ("HeldState" in
  flotilla get clusters). Once the declarations are back, adopt lets the hub's desired state
  replace what the agent holds: deployments the hub still has are applied again (unchanged
  objects are not written); the ones it lacks are orphaned (left running, no longer managed),
  or deleted with --prune-missing. Uses Temporal like get/reconcile. See docs/reliability.md.
The hub: --hub <url> (its HTTP API, with --hub-token for changes; FLOTILLA_HUB,
FLOTILLA_HUB_TOKEN) or --hub-data <dir> (its data directory, on the hub's machine;
FLOTILLA_HUB_DATA). A token's labels win over the labels an agent asks for. See docs/clusters.md.

examples:
  flotilla cluster add edge --kubeconfig edge.kubeconfig --labels env=prod,region=eu \\
    --hub https://hub.example.com:7480 --ca-file hub-ca.crt --hub-token "$(cat api-token)" --hub-address hub.example.com:7443
  flotilla cluster remove edge --kubeconfig edge.kubeconfig --hub https://hub.example.com:7480 --ca-file hub-ca.crt
  flotilla cluster token create --labels env=staging --ttl 2h --hub-data /var/lib/flotilla`,
};

const SUMMARY: readonly (readonly [string, string])[] = [
  ['get', 'the fleet at a glance (get all), clusters, sources, kustomizations, helmreleases, alerts…'],
  ['apply', 'load Flux declarations into the hub'],
  ['reconcile', 'reconcile now and wait for the outcome'],
  ['suspend, resume', 'stop / restart reconciling a declaration'],
  ['delete', 'delete a declaration (pruning what it applied)'],
  ['history', 'what happened to a declaration, from its workflow histories'],
  ['events', 'recent events across declarations (--watch)'],
  ['trace', 'which declaration delivers an object to a cluster, and its state there'],
  ['explain', 'why a cluster is not at the latest revision'],
  ['rollout', 'status, approve, pause, resume, abort, retry progressive rollouts'],
  ['helm', 'release history and rollback per cluster'],
  ['cluster', 'add/remove a cluster (agent chart + token), tokens, revocation, list'],
  ['bootstrap', 'make the hub reconcile its own declarations from git'],
  ['build', 'what the hub will adopt, apply and skip for a repository path (offline)'],
  ['check', 'verify hub, Temporal, worker and agents; --pre <dir>: a repository before bootstrap'],
];

export const OVERVIEW = `flotilla: GitOps for fleets of Kubernetes clusters (Flux's YAML, durable Temporal workflows)

usage: flotilla <command> [arguments] [options]

commands:
${SUMMARY.map(([c, s]) => `  ${c.padEnd(17)}${s}`).join('\n')}

${GLOBAL_OPTIONS}

examples:
  flotilla get all
  flotilla history kustomization/podinfo --cluster prod
  flotilla explain kustomization/podinfo --cluster prod
  flotilla rollout status kustomization podinfo --watch`;
