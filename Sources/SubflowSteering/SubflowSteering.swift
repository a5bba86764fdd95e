import LinuxSystem
/// SubflowSteering: the only srte module that talks to the kernel.
///
/// It holds the SRH kernel oracle (``KernelSRHCheck``), network-namespace
/// helpers, the netlink client, the MPTCP path
/// manager and per-subflow SRH steering.
public enum SubflowSteering {}
