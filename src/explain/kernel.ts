/**
 * The plan kernel: the recording fake of ffi/fake.ts answered by a model of the kernel (kernel_fs.ts,
 * kernel_proc.ts, kernel_userns.ts) that never changes the host. Calls the model does not answer throw (strict), so an
 * unexpected kernel call shows up as a refusal naming it instead of a silent gap in the plan.
 */
import type { Kernel } from "../../ffi/mod.ts";
import { type Call, fakeKernel } from "../../ffi/fake.ts";
import { fsCalls } from "./kernel_fs.ts";
import { procCalls } from "./kernel_proc.ts";
import { type PlanContext, PlanState } from "./state.ts";

/** A plan kernel, its state, and the raw calls it recorded. */
export interface PlanKernel {
  kernel: Kernel;
  state: PlanState;
  calls: Call[];
}

/** Creates a plan kernel for a container described by `ctx` (filled in further as the spec is read). */
export function planKernel(ctx: PlanContext): PlanKernel {
  const state = new PlanState(ctx);
  const fake = fakeKernel({ ...fsCalls(state), ...procCalls(state) }, true);
  return { kernel: fake.kernel, state, calls: fake.calls };
}
