// smeard's XDP program: sends the listener's NTP requests to its AF_XDP sockets, with the
// time of arrival in the frame's metadata; everything else goes on to the kernel untouched.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

// What userspace fills in before attaching: the listener's address and port.
struct target {
  __u8 ipv6;
  __u8 pad;
  __be16 port;
  __be32 ipv4;
  __u8 ipv6_address[16];
};

// Must match server/xdp/attachment.hpp's FrameMetadata.
struct metadata {
  __u64 tai_ns;
  __u32 magic;
  __u32 pad;
};
#define SMEARD_METADATA_MAGIC 0x534d4541u

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct target);
} targets SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, 256);
  __type(key, __u32);
  __type(value, __u32);
} sockets SEC(".maps");

static __always_inline int same(const __u8 *a, const __u8 *b) {
  __u64 a0, a1, b0, b1;
  __builtin_memcpy(&a0, a, 8);
  __builtin_memcpy(&a1, a + 8, 8);
  __builtin_memcpy(&b0, b, 8);
  __builtin_memcpy(&b1, b + 8, 8);
  return a0 == b0 && a1 == b1;
}

SEC("xdp")
int smeard_xdp(struct xdp_md *ctx) {
  const __u64 arrived = bpf_ktime_get_tai_ns();
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  __u32 key = 0;
  const struct target *want = bpf_map_lookup_elem(&targets, &key);
  if (!want) return XDP_PASS;
  struct ethhdr *eth = data;
  // Unicast only: a broadcast or multicast request is not the listener's to answer.
  if ((void *)(eth + 1) > end || (eth->h_dest[0] & 1)) return XDP_PASS;
  struct udphdr *udp;
  if (eth->h_proto == bpf_htons(ETH_P_IP) && !want->ipv6) {
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || ip->version != 4 || ip->protocol != IPPROTO_UDP) return XDP_PASS;
    // Fragments are the kernel's to reassemble.
    if (ip->frag_off & bpf_htons(0x3fff)) return XDP_PASS;
    if (ip->daddr != want->ipv4) return XDP_PASS;
    if (ip->ihl < 5) return XDP_PASS;
    // With options too: userspace drops and counts them, so they are seen rather than served.
    udp = (void *)ip + ip->ihl * 4;
  } else if (eth->h_proto == bpf_htons(ETH_P_IPV6) && want->ipv6) {
    struct ipv6hdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || ip->version != 6 || ip->nexthdr != IPPROTO_UDP) return XDP_PASS;
    if (!same(ip->daddr.in6_u.u6_addr8, want->ipv6_address)) return XDP_PASS;
    udp = (void *)(ip + 1);
  } else {
    return XDP_PASS;
  }
  if ((void *)(udp + 1) > end || udp->dest != want->port) return XDP_PASS;
  // No socket on this queue: the kernel's UDP socket answers instead.
  const __u32 queue = ctx->rx_queue_index;
  if (!bpf_map_lookup_elem(&sockets, &queue)) return XDP_PASS;
  if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct metadata)) == 0) {
    struct metadata *meta = (void *)(long)ctx->data_meta;
    if ((void *)(meta + 1) <= (void *)(long)ctx->data) {
      meta->tai_ns = arrived;
      meta->magic = SMEARD_METADATA_MAGIC;
      meta->pad = 0;
    }
  }
  return bpf_redirect_map(&sockets, queue, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
