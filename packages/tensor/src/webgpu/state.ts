let registered = false;

/** Whether registerWebGpuKernels has routed Recur's ops to the WGSL kernels. */
export function kernelsRegistered(): boolean {
  return registered;
}

export function markRegistered(): void {
  registered = true;
}
