# A UDP echo server for the UDP proxy tests: answers every datagram with
# itself. usage: udp_echo.py PORT
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("listening", flush=True)
while True:
    data, addr = s.recvfrom(65536)
    s.sendto(data, addr)
