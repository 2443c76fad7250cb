"""The sample system of the microservices pack: three small Flask services.

    python3 shop.py --role catalog   --name catalog-1   --port P
    python3 shop.py --role inventory --name inventory-1 --port P
    python3 shop.py --role orders    --name orders-1    --port P \
        --inventory http://127.0.0.1:A --inventory http://127.0.0.1:B \
        --records DIR [--inventory-timeout 0.5]

catalog    GET /items: the item list; calls nothing.
inventory  GET /stock/<item>: whether an item is in stock.
orders     POST /orders {"id": ..., "item": ...}: checks stock with one
           inventory instance (timeout --inventory-timeout, then the next
           instance; a circuit breaker skips an instance for 2 s after 3
           failures in a row), then creates the order: 201. When no inventory
           instance answers: 503 {"error": "inventory unavailable: ..."} at
           once. Orders are not deduplicated by id (that is what the
           expected-finding scenario shows): every creation is appended to
           DIR/<name>.jsonl and listed by GET /orders/created.
every role GET /health.

Every response carries X-Instance: <name>.
"""
import argparse
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request

from flask import Flask, jsonify, request

ITEMS = [{"id": i, "name": "item-%d" % i, "price": 100 + i} for i in range(1, 21)]


def make_app(args):
    app = Flask(args.name)
    lock = threading.Lock()

    @app.after_request
    def tag(resp):
        resp.headers["X-Instance"] = args.name
        return resp

    @app.get("/health")
    def health():
        return jsonify(ok=True, instance=args.name)

    if args.role == "catalog":
        @app.get("/items")
        def items():
            return jsonify(items=ITEMS, instance=args.name)

    elif args.role == "inventory":
        @app.get("/stock/<item>")
        def stock(item):
            return jsonify(item=item, in_stock=True, instance=args.name)

    elif args.role == "orders":
        # Direct connections only: never an http_proxy from the environment.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        path = os.path.join(args.records, args.name + ".jsonl")
        created = []
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    try:
                        created.append(json.loads(line)["id"])
                    except (ValueError, KeyError):
                        pass  # a line cut short by a kill
        log = open(path, "a")
        state = {"next": 0}
        breaker = {u: {"fails": 0, "open_until": 0.0} for u in args.inventory}

        def check_stock(item):
            errors = []
            n = len(args.inventory)
            with lock:
                start = state["next"]
                state["next"] = (start + 1) % n
            for k in range(n):
                url = args.inventory[(start + k) % n]
                b = breaker[url]
                with lock:
                    is_open = b["open_until"] > time.monotonic()
                if is_open:
                    errors.append("%s: circuit open" % url)
                    continue
                try:
                    with opener.open("%s/stock/%s" % (url, item),
                                     timeout=args.inventory_timeout) as r:
                        body = json.loads(r.read())
                    with lock:
                        b["fails"] = 0
                    return body, None
                except Exception as e:  # timeout, refused, reset, bad answer
                    with lock:
                        b["fails"] += 1
                        if b["fails"] >= 3:
                            b["open_until"] = time.monotonic() + 2.0
                            b["fails"] = 0
                    errors.append("%s: %s" % (url, getattr(e, "reason", e)))
            return None, "; ".join(errors)

        @app.post("/orders")
        def create():
            order = request.get_json(force=True, silent=True) or {}
            if "id" not in order:
                return jsonify(error="an order needs a client-generated id"), 400
            stock, err = check_stock(order.get("item", "item-1"))
            if stock is None:
                return jsonify(error="inventory unavailable: " + err), 503
            rec = {"id": order["id"], "instance": args.name, "t": time.time(),
                   "inventory": stock.get("instance")}
            with lock:
                created.append(order["id"])
                log.write(json.dumps(rec) + "\n")
                log.flush()
            return jsonify(rec), 201

        @app.get("/orders/created")
        def listing():
            with lock:
                return jsonify(instance=args.name, ids=list(created))

    return app


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--role", required=True, choices=["catalog", "inventory", "orders"])
    p.add_argument("--name", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--inventory", action="append", default=[])
    p.add_argument("--inventory-timeout", type=float, default=0.5)
    p.add_argument("--records", default=".")
    args = p.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = make_app(args)
    print("%s (%s) listening on 127.0.0.1:%d" % (args.name, args.role, args.port), flush=True)
    app.run(host="127.0.0.1", port=args.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
