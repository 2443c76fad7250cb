# Sends N numbered datagrams to ADDR, one every GAP seconds, collects the
# echoes for a second after the last, and prints what came back:
# "sent N received R duplicates D reordered O".  usage: udp_client.py HOST:PORT N GAP
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
n, gap = int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
got = []
def drain():
    while True:
        try:
            data, _ = s.recvfrom(65536)
            got.append(int(data))
        except BlockingIOError:
            return
for i in range(n):
    s.sendto(str(i).encode(), (host, int(port)))
    time.sleep(gap)
    drain()
end = time.time() + 0.6
while time.time() < end:
    drain()
    time.sleep(0.005)
seen = set()
dups = sum(1 for x in got if x in seen or seen.add(x))
reordered = sum(1 for a, b in zip(got, got[1:]) if b < a)
print("sent %d received %d distinct %d duplicates %d reordered %d" % (n, len(got), len(seen), dups, reordered))
