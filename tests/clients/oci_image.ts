/**
 * An OCI image archive (image-spec "image layout" in a tar) built from a rootfs tarball, for engines that
 * import images (`ctr images import`): one uncompressed layer, a config, a manifest, and an index that
 * names the image with the annotations containerd and the spec use.
 */

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The OCI architecture name of this machine. */
export function ociArch(): string {
  return { x86_64: "amd64", aarch64: "arm64" }[Deno.build.arch] ?? Deno.build.arch;
}

/** A content descriptor. */
interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

/**
 * Writes `archive`: an OCI image layout in a tar, whose one layer is the tarball `layerTar`, named `ref`
 * (e.g. "localhost/busybox:test"), with `cmd` as its default command.
 */
export async function writeOciArchive(layerTar: string, ref: string, archive: string, cmd = ["sh"]) {
  const work = Deno.makeTempDirSync({ prefix: "runts-oci-" });
  try {
    Deno.mkdirSync(`${work}/blobs/sha256`, { recursive: true });
    const put = async (bytes: Uint8Array<ArrayBuffer>, mediaType: string): Promise<Descriptor> => {
      const hex = await sha256(bytes);
      Deno.writeFileSync(`${work}/blobs/sha256/${hex}`, bytes);
      return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
    };
    const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    const layer = await put(Deno.readFileSync(layerTar), "application/vnd.oci.image.layer.v1.tar");
    const config = await put(
      json({
        architecture: ociArch(),
        os: "linux",
        config: { Cmd: cmd, Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] },
        rootfs: { type: "layers", diff_ids: [layer.digest] },
      }),
      "application/vnd.oci.image.config.v1+json",
    );
    const manifest = await put(
      json({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config,
        layers: [layer],
      }),
      "application/vnd.oci.image.manifest.v1+json",
    );
    const tag = ref.slice(ref.lastIndexOf(":") + 1);
    Deno.writeTextFileSync(`${work}/oci-layout`, JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    Deno.writeTextFileSync(
      `${work}/index.json`,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [{
          ...manifest,
          platform: { architecture: ociArch(), os: "linux" },
          annotations: { "io.containerd.image.name": ref, "org.opencontainers.image.ref.name": tag },
        }],
      }),
    );
    const out = await new Deno.Command("tar", {
      args: ["-C", work, "-cf", archive, "oci-layout", "index.json", "blobs"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`tar: ${new TextDecoder().decode(out.stderr)}`);
  } finally {
    Deno.removeSync(work, { recursive: true });
  }
}
