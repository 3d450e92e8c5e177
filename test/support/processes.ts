/** Process checks for the tests that kill nodes or servers and assert that nothing is left running. */

/** Whether a process with this pid exists (signal 0 probes without delivering anything). */
export const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
