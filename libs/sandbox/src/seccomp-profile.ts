/**
 * The seccomp profile every sandbox runs under, in the JSON shape Docker's API takes inline
 * (`HostConfig.SecurityOpt: ['seccomp=<json>']`). A custom profile replaces Docker's default
 * one, so this covers what the default denies as well as what it lets through and a notebook
 * never needs.
 *
 * It allows by default and denies by name: a notebook runs an open-ended set of programs
 * (Python, numpy's BLAS, ffmpeg, shell commands), and an allowlist would break the first one that
 * uses a call nobody listed. What is denied is either ptrace-like reach into another process
 * (PID 1 is tini under the same uid, so the kernel's same-uid checks do not stop it), a way out of
 * the container's namespaces, or kernel surface that privileged code alone needs and unprivileged
 * code mostly uses in exploits. Calls that already need a capability we drop are denied anyway,
 * so a capability bug alone is not enough.
 */

type SeccompAction = 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
type SeccompArch = 'SCMP_ARCH_X86_64' | 'SCMP_ARCH_X86' | 'SCMP_ARCH_X32' | 'SCMP_ARCH_AARCH64' | 'SCMP_ARCH_ARM';

interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: 'SCMP_CMP_MASKED_EQ';
}

export interface SeccompRule {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  /** Every comparison must hold for the rule to apply (several rules for one call are alternatives). */
  args?: SeccompArg[];
  comment?: string;
}

/** Docker's profile format (moby `profiles/seccomp` Seccomp type), the subset we use. */
export interface SeccompProfile {
  defaultAction: SeccompAction;
  archMap: { architecture: SeccompArch; subArchitectures: SeccompArch[] }[];
  syscalls: SeccompRule[];
}

const EPERM = 1;
const ENOSYS = 38;

/** Namespace flags of clone(2); a thread or a fork sets none of them. */
export const CLONE_NAMESPACE_FLAGS = {
  CLONE_NEWNS: 0x00020000,
  CLONE_NEWCGROUP: 0x02000000,
  CLONE_NEWUTS: 0x04000000,
  CLONE_NEWIPC: 0x08000000,
  CLONE_NEWUSER: 0x10000000,
  CLONE_NEWPID: 0x20000000,
  CLONE_NEWNET: 0x40000000,
} as const;

/** Persona bits that weaken the address space (no ASLR, executable data, page 0 mappable). */
const PERSONALITY_UNSAFE_BITS = {
  ADDR_NO_RANDOMIZE: 0x0040000,
  MMAP_PAGE_ZERO: 0x0100000,
  ADDR_COMPAT_LAYOUT: 0x0200000,
  READ_IMPLIES_EXEC: 0x0400000,
} as const;

const BIT31 = 0x80000000;

const deny = (comment: string, names: string[]): SeccompRule => ({ names, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, comment });
const denyPersonality = (comment: string, mask: number, value: number): SeccompRule => ({
  names: ['personality'],
  action: 'SCMP_ACT_ERRNO',
  errnoRet: EPERM,
  args: [{ index: 0, value: mask, valueTwo: value, op: 'SCMP_CMP_MASKED_EQ' }],
  comment,
});

export const SANDBOX_SECCOMP_PROFILE: SeccompProfile = {
  defaultAction: 'SCMP_ACT_ALLOW',
  // Each 64-bit host with the 32-bit ABIs its kernel may also accept, so `int 0x80` or x32
  // numbering cannot reach a call by another number.
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
  ],
  syscalls: [
    // Reading, writing or stopping another process. Every process in the sandbox (tini as PID 1,
    // the runner, a cell's children) has uid 1000, so ptrace(PTRACE_ATTACH, 1) would succeed and
    // hang the runner; the others are ptrace by other means.
    deny('another process: ptrace and its equivalents', [
      'ptrace',
      'process_vm_readv',
      'process_vm_writev',
      'kcmp',
      'pidfd_getfd',
      'process_madvise',
      'move_pages',
      'migrate_pages',
    ]),
    // New namespaces are the first step of most container escapes (an unprivileged user namespace
    // hands out every capability inside it), and joining one leaves the sandbox's.
    deny('namespaces: creating or joining one', ['unshare', 'setns']),
    ...Object.entries(CLONE_NAMESPACE_FLAGS).map(([flag, bit]) => ({
      names: ['clone'],
      action: 'SCMP_ACT_ERRNO' as const,
      errnoRet: EPERM,
      args: [{ index: 0, value: bit, valueTwo: bit, op: 'SCMP_CMP_MASKED_EQ' as const }],
      comment: `clone with ${flag}; fork and thread creation set no namespace flag and pass`,
    })),
    // clone3 passes its flags in memory, where seccomp cannot look. ENOSYS (not EPERM) makes glibc
    // fall back to clone, which the rules above can check.
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS, comment: 'clone3: flags out of reach, glibc falls back to clone' },
    // The file-system tree: mounts, the new mount API, a changed root.
    deny('mounts and root changes', [
      'mount',
      'umount',
      'umount2',
      'pivot_root',
      'chroot',
      'fsopen',
      'fsconfig',
      'fsmount',
      'fspick',
      'move_mount',
      'open_tree',
      'open_tree_attr',
      'mount_setattr',
    ]),
    // Opening a file by handle bypasses path checks (Docker's "shocker" escape).
    deny('file handles', ['open_by_handle_at', 'name_to_handle_at']),
    // Kernel attack surface that unprivileged exploits lean on: eBPF programs, perf events,
    // userfaultfd (stalls the kernel mid-copy to win races), io_uring (a second syscall interface
    // that seccomp does not see into), and the keyrings (not namespaced: shared with the host).
    deny('exploit-prone kernel surface', [
      'bpf',
      'perf_event_open',
      'userfaultfd',
      'io_uring_setup',
      'io_uring_enter',
      'io_uring_register',
      'keyctl',
      'add_key',
      'request_key',
      'fanotify_init',
      'modify_ldt',
      'vm86',
      'vm86old',
    ]),
    // The machine, not the process: modules, kexec, reboot, swap, accounting, port I/O, quotas,
    // the kernel log, host and domain names, the system clock. All need capabilities we drop.
    deny('whole-machine administration', [
      'init_module',
      'finit_module',
      'delete_module',
      'create_module',
      'kexec_load',
      'kexec_file_load',
      'reboot',
      'swapon',
      'swapoff',
      'acct',
      'iopl',
      'ioperm',
      'quotactl',
      'quotactl_fd',
      'syslog',
      'sethostname',
      'setdomainname',
      'settimeofday',
      'stime',
      'clock_settime',
      'clock_adjtime',
      'adjtimex',
      'vhangup',
    ]),
    // Obsolete calls with a history of bugs and no use in a notebook.
    deny('obsolete', ['uselib', 'ustat', 'sysfs', '_sysctl', 'nfsservctl', 'lookup_dcookie', 'get_kernel_syms', 'query_module']),
    // personality(2) may read the persona (0xffffffff) and switch PER_LINUX/PER_LINUX32, but not
    // set a bit that weakens the address space. runc turns several comparisons on one argument
    // into alternatives, so "unsafe bit and not the query" cannot be one rule; bit 31, which no
    // persona uses, tells them apart: an unsafe bit with bit 31 clear, or bit 31 with any other bit
    // clear (every value with bit 31 set except the query itself).
    ...Object.entries(PERSONALITY_UNSAFE_BITS).map(([flag, bit]) => denyPersonality(`personality with ${flag}`, bit + BIT31, bit)),
    ...Array.from({ length: 31 }, (_, b) => denyPersonality(`personality with bit 31 and not bit ${b}`, 2 ** b + BIT31, BIT31)),
  ],
};

/** The Docker `SecurityOpt` entry that applies the sandbox profile (the profile text itself, not a path). */
export function seccompSecurityOpt(profile: SeccompProfile = SANDBOX_SECCOMP_PROFILE): string {
  return `seccomp=${JSON.stringify(profile)}`;
}
