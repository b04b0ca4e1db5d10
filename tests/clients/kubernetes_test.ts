/**
 * Kubernetes as far as this machine allows: a private containerd whose CRI plugin has runts as a
 * RuntimeClass handler, configured with the block from docs/kubernetes.md, driven over CRI the way a
 * kubelet drives it (pod sandbox, container, ExecSync probe, teardown). runc, as a second handler built from
 * the same block, is the reference.
 */
import assert from "node:assert/strict";
import { Containerd } from "./containerd.ts";
import { CriClient, NamespaceMode, type PodSpec } from "./cri.ts";
import {
  ensureInstalled,
  runScenarios,
  runtimes,
  RUNTS,
  type Scenario,
  type ScenarioContext,
  ScenarioTable,
  waitFor,
} from "./engines.ts";

const DOC = new URL("../../docs/kubernetes.md", import.meta.url).pathname;
const IMAGE = "localhost/busybox:runts-test";
const PAUSE = "localhost/pause:runts-test";

const skip = Deno.uid() !== 0
  ? "needs root"
  : await ensureInstalled(["containerd", "runc"], ["containerd", "ctr", "containerd-shim-runc-v2", "runc"]);
if (skip) console.log(`tests/clients/kubernetes_test.ts: skipped: ${skip}`);

/** The documented containerd runtime block, for handler `handler` running `binary`. */
export function runtimeBlock(handler: string, binary: string): string {
  const doc = Deno.readTextFileSync(DOC);
  const block = [...doc.matchAll(/```toml\n([\s\S]*?)```/g)].map((m) => m[1])
    .find((b) => b.includes(`containerd.runtimes.runts]`));
  if (!block) throw new Error(`${DOC}: no containerd runtime block for runts`);
  return block.replaceAll("containerd.runtimes.runts", `containerd.runtimes.${handler}`)
    .replaceAll("/usr/local/bin/runts", binary);
}

/** containerd's CRI plugin: a private CNI dir (host-network pods need none), our pause image, the handlers. */
function criToml(dir: string): string {
  Deno.mkdirSync(`${dir}/cni`, { recursive: true });
  return [
    `[plugins."io.containerd.grpc.v1.cri"]`,
    `  sandbox_image = "${PAUSE}"`,
    `  stream_server_address = "127.0.0.1"`,
    // The pod sandbox asks for oom_score_adj -998; lowering it needs CAP_SYS_RESOURCE, which this VM
    // lacks (runc fails there too). Restricted, it stays at containerd's own value.
    `  restrict_oom_score_adj = true`,
    `[plugins."io.containerd.grpc.v1.cri".cni]`,
    `  conf_dir = "${dir}/cni"`,
    ...runtimes().map((rt) => runtimeBlock(rt.name, rt.path)),
  ].join("\n");
}

Deno.test("docs/kubernetes.md: the containerd block names the runc shim and BinaryName", () => {
  const block = runtimeBlock("runts", RUNTS);
  assert.match(block, /runtime_type = "io\.containerd\.runc\.v2"/);
  assert.match(block, new RegExp(`BinaryName = "${RUNTS}"`));
});

const scenarios: Scenario<Containerd>[] = [
  {
    name: "RuntimeClass handler: pod sandbox, container, ExecSync probe, teardown",
    fn: async (c: Containerd, ctx: ScenarioContext) => {
      const cri = new CriClient(c.socket);
      const pod: PodSpec = {
        name: `pod-${ctx.name}`,
        uid: crypto.randomUUID(),
        namespace: "default",
        network: NamespaceMode.NODE,
        pid: NamespaceMode.POD,
      };
      let sandbox = "", container = "";
      try {
        sandbox = await cri.runPodSandbox(pod, ctx.rt.name);
        const state = await c.runtimeState();
        assert.ok(state.includes(sandbox), `the sandbox is in the runtime's state: ${state}`);
        const bootLog = await c.h.run(["test", "-e", `/run/containerd/runc/k8s.io/${sandbox}/boot.log`]);
        assert.equal(bootLog.code === 0, ctx.rt.name === "runts", "runts's own state files tell who ran it");

        container = await cri.createContainer(sandbox, pod, "main", IMAGE, ["sh", "-c", "sleep 1000"]);
        await cri.startContainer(container);
        await waitFor(async () => (await cri.containerStatus(container)).state === 1, "the container to run");

        const probe = await cri.execSync(container, ["sh", "-c", "echo probe; cat /proc/1/cmdline; exit 3"]);
        assert.equal(probe.exitCode, 3, probe.stderr);
        // pid namespace POD: the pod's pause process is pid 1 for the container too.
        assert.equal(probe.stdout, "probe\nsleep\x001000000\x00");

        await cri.stopContainer(container, 0);
        assert.equal((await cri.containerStatus(container)).state, 2);
        await cri.removeContainer(container);
        container = "";
        await cri.stopPodSandbox(sandbox);
        await cri.removePodSandbox(sandbox);
        sandbox = "";
        assert.deepEqual(await c.runtimeState(), []);
      } finally {
        if (container) await cri.removeContainer(container).catch(() => {});
        if (sandbox) {
          await cri.stopPodSandbox(sandbox).catch(() => {});
          await cri.removePodSandbox(sandbox).catch(() => {});
        }
        cri.close();
      }
    },
  },
];

Deno.test({
  name: "kubernetes: containerd CRI with runts as a RuntimeClass handler (runc as the reference)",
  ignore: skip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const rts = runtimes();
  const table = new ScenarioTable("kubernetes (containerd CRI)", rts.map((r) => r.name));
  const c = await Containerd.start({ namespace: "k8s.io", criToml });
  try {
    await c.importImage(IMAGE, ["sh"]);
    await c.importImage(PAUSE, ["sleep", "1000000"]);
    await runScenarios(t, c, scenarios, rts, table);
  } catch (e) {
    console.log(`containerd log:\n${c.log().split("\n").slice(-30).join("\n")}`);
    throw e;
  } finally {
    await c.stop();
    table.print();
  }
});
