"""The sample system of the microservices pack: three small Flask services.

    python3 shop.py --role catalog   --name catalog-1   --port P
    python3 shop.py --role inventory --name inventory-1 --port P --records DIR
    python3 shop.py --role orders    --name orders-1    --port P \
        --inventory http://127.0.0.1:A --inventory http://127.0.0.1:B \
        --records DIR [--inventory-timeout 0.5]

catalog    GET /items: the item list; GET /items/<id>: one item. Calls nothing.
inventory  GET /stock/<item>: whether an item is in stock.
           POST /reserve {"order": id, "item": ...}: reserves one item for an
           order: 201, appended to DIR/<name>.jsonl and listed (with
           repeats) by GET /reservations. A request with an Idempotency-Key
           header that any inventory instance already served (the keys are
           files in DIR/keys, shared like a database's unique index) is
           answered 200 {"replayed": true} and not reserved again.
orders     POST /orders {"id": ..., "item": ...}: reserves the item with one
           inventory instance (POST /reserve, timeout --inventory-timeout),
           under the retry policy below, then creates the order: 201. When no
           attempt succeeds: 503 {"error": "inventory unavailable: ..."}. A
           circuit breaker skips an instance for 2 s after 3 failures in a
           row (timeouts and connection errors; an HTTP error answer is not
           counted: the instance is up). Orders are not deduplicated by id (that is what the
           expected-finding scenarios show): every creation is appended to
           DIR/<name>.jsonl and listed by GET /orders/created.
every role GET /health.

orders' retry policy, from the environment (read at start):
    SHOP_RETRIES          attempts after the first (default: one per other
                          inventory instance, i.e. each instance once); an
                          attempt goes to the next instance in turn, skipping
                          one whose breaker is open; 0 = no retry
    SHOP_RETRY_BACKOFF    seconds before the first retry (default 0), doubled
                          for each further one, with jitter (between half and
                          all of it)
    SHOP_RETRY_BACKOFF_MAX  the cap on one backoff (default 0.5 s)
    SHOP_RETRY_BUDGET     the most an order spends on inventory, attempts and
                          backoffs together (default 1.5 s, under nginx's 2 s
                          read timeout): no attempt starts after it, and
                          an attempt's timeout is cut to what is left
    SHOP_IDEMPOTENCY_KEY  1: send "Idempotency-Key: order-<id>" with each
                          reservation, so a retry is not reserved twice
Retried: a connection error, a timeout, and HTTP 502, 503 and 504; any other
answer is final.

Every response carries X-Instance: <name>.
"""
import argparse
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request

from flask import Flask, jsonify, request

ITEMS = [{"id": i, "name": "item-%d" % i, "price": 100 + i} for i in range(1, 21)]


def retry_policy(instances):
    """orders' retry policy from the environment (see the module's comment)."""
    env = os.environ

    def number(name, default, kind=float):
        v = env.get(name, "")
        return kind(v) if v.strip() else default
    # Unset, the policy is the pack's original one: each instance once, in
    # turn, at once.
    return {"once_each": not env.get("SHOP_RETRIES", "").strip(),
            "retries": max(0, number("SHOP_RETRIES", max(0, instances - 1), int)),
            "backoff": max(0.0, number("SHOP_RETRY_BACKOFF", 0.0)),
            "backoff_max": max(0.0, number("SHOP_RETRY_BACKOFF_MAX", 0.5)),
            "budget": max(0.0, number("SHOP_RETRY_BUDGET", 1.5)),
            "idempotency_key": env.get("SHOP_IDEMPOTENCY_KEY", "") in ("1", "true", "yes")}


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

        @app.get("/items/<int:item_id>")
        def item(item_id):
            if not 1 <= item_id <= len(ITEMS):
                return jsonify(error="no item %d" % item_id), 404
            return jsonify(item=ITEMS[item_id - 1], instance=args.name)

    elif args.role == "inventory":
        @app.get("/stock/<item>")
        def stock(item):
            return jsonify(item=item, in_stock=True, instance=args.name)

        reserved = []
        rpath = os.path.join(args.records, args.name + ".jsonl")
        if os.path.exists(rpath):
            with open(rpath) as f:
                for line in f:
                    try:
                        reserved.append(json.loads(line)["order"])
                    except (ValueError, KeyError):
                        pass  # a line cut short by a kill
        rlog = open(rpath, "a")
        # The idempotency keys live where every inventory instance sees them
        # (as in a shared database with a unique constraint): a retry sent
        # to another instance is still recognised.
        keys = os.path.join(args.records, "keys")
        os.makedirs(keys, exist_ok=True)

        def claim(key, rec):
            """True if this request is the first with `key` (it claims it)."""
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)[:128]
            try:
                fd = os.open(os.path.join(keys, safe), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(rec))
            return True

        @app.post("/reserve")
        def reserve():
            body = request.get_json(force=True, silent=True) or {}
            if "order" not in body:
                return jsonify(error="a reservation needs an order id"), 400
            key = request.headers.get("Idempotency-Key")
            rec = {"order": body["order"], "item": body.get("item", "item-1"),
                   "instance": args.name, "t": time.time()}
            if key and not claim(key, rec):
                return jsonify(order=body["order"], replayed=True, instance=args.name), 200
            with lock:
                reserved.append(body["order"])
                rlog.write(json.dumps(rec) + "\n")
                rlog.flush()
            return jsonify(rec), 201

        @app.get("/reservations")
        def reservations():
            with lock:
                return jsonify(instance=args.name, ids=list(reserved))

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

        policy = retry_policy(len(args.inventory))

        def call(url, order_id, item, timeout):
            """One reservation attempt: (body, None) or (None, error, retryable)."""
            data = json.dumps({"order": order_id, "item": item}).encode()
            headers = {"Content-Type": "application/json"}
            if policy["idempotency_key"]:
                headers["Idempotency-Key"] = "order-%s" % order_id
            req = urllib.request.Request(url + "/reserve", data=data, headers=headers,
                                         method="POST")
            try:
                with opener.open(req, timeout=timeout) as r:
                    return json.loads(r.read()), None, False
            except urllib.error.HTTPError as e:
                return None, "HTTP %d" % e.code, e.code in (502, 503, 504)
            except Exception as e:  # timeout, refused, reset, bad answer
                return None, str(getattr(e, "reason", e)), True

        def next_closed(start):
            """The first instance from `start` on whose breaker is closed."""
            n = len(args.inventory)
            now = time.monotonic()
            with lock:
                for k in range(n):
                    url = args.inventory[(start + k) % n]
                    if breaker[url]["open_until"] <= now:
                        return (start + k) % n, url
            return None, None

        def record(url, ok):
            with lock:
                b = breaker[url]
                if ok:
                    b["fails"] = 0
                    return
                b["fails"] += 1
                if b["fails"] >= 3:
                    b["open_until"] = time.monotonic() + 2.0
                    b["fails"] = 0

        def reserve(order_id, item):
            """Reserves under the retry policy: (reservation, None) or (None, errors)."""
            errors = []
            with lock:
                pos = state["next"]
                state["next"] = (pos + 1) % len(args.inventory)
            deadline = time.monotonic() + policy["budget"]
            tried = set()
            for attempt in range(1 + policy["retries"]):
                if attempt > 0:
                    pause = min(policy["backoff_max"], policy["backoff"] * 2 ** (attempt - 1))
                    pause = pause * random.uniform(0.5, 1.0)
                    if time.monotonic() + pause >= deadline:
                        errors.append("retry budget spent")
                        break
                    time.sleep(pause)
                idx, url = next_closed(pos)
                if url is None:
                    errors.append("every circuit open")
                    break
                if policy["once_each"] and url in tried:
                    break
                tried.add(url)
                pos = idx + 1
                left = deadline - time.monotonic()
                body, err, retryable = call(url, order_id, item,
                                            max(0.01, min(args.inventory_timeout, left)))
                # The breaker is for an instance that does not answer (a
                # timeout, a refused or reset connection): a quick HTTP error
                # answer says it is up, and costs nothing to retry.
                if body is not None or retryable and not err.startswith("HTTP "):
                    record(url, body is not None)
                if body is not None:
                    return body, None
                errors.append("%s: %s" % (url, err))
                if not retryable:
                    break
            return None, "; ".join(errors)

        @app.post("/orders")
        def create():
            order = request.get_json(force=True, silent=True) or {}
            if "id" not in order:
                return jsonify(error="an order needs a client-generated id"), 400
            stock, err = reserve(order["id"], order.get("item", "item-1"))
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
    if args.role == "orders":
        print("retry policy: %s" % json.dumps(retry_policy(len(args.inventory))), flush=True)
    app.run(host="127.0.0.1", port=args.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
