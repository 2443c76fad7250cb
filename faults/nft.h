/* nftables text for the namespace layer's partitions.
 *
 * One table per run, `table bridge fl<id>`. It is the bridge family because
 * traffic between two namespaces on one bridge is bridged, not routed: the
 * inet family's forward hook sees it only when br_netfilter is loaded with
 * bridge-nf-call-iptables=1, which varies from host to host, while the bridge
 * family's hooks see every frame between ports (forward) and between a port
 * and the host (input, output). All three jump to one chain, `cut`, that
 * holds the drop rules; a partition rewrites that chain in one transaction
 * (`nft -f -` is atomic), so there is never a moment with half a cut.
 * Matching is on IPv4 addresses: ARP still passes (as on a real network whose
 * links are up but whose routers drop), IPv6 is not cut. */
#ifndef FL_NFT_H
#define FL_NFT_H

#include <stddef.h>
#include <stdint.h>

/* One directed cut: packets from src to dst are dropped (host byte order). */
typedef struct fl_nft_cut_s {
  uint32_t src, dst;
} fl_nft_cut_t;

/* Returns new: the text that makes table (name, family bridge) with its
 * chains and no rule. */
char *fl_nft_table_text(const char *table);
/* Returns new: the text that replaces the cut chain's rules with cuts (n may
 * be 0: everything healed). */
char *fl_nft_cut_text(const char *table, const fl_nft_cut_t *cuts, size_t n);

#endif
