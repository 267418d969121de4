# compose.yaml's site: two app instances, purges allowed from the app network only.
# (tests/edge.py writes its own site.vcl with loopback backends.)
probe ready {
    .url = "/readyz";
    .interval = 1s;
    .timeout = 1s;
    .window = 3;
    .threshold = 2;
    .initial = 2;
}

backend app1 {
    .host = "app1";
    .port = "8080";
    .probe = ready;
    .connect_timeout = 1s;
    .first_byte_timeout = 10s;
    .between_bytes_timeout = 5s;
}

backend app2 {
    .host = "app2";
    .port = "8080";
    .probe = ready;
    .connect_timeout = 1s;
    .first_byte_timeout = 10s;
    .between_bytes_timeout = 5s;
}

sub vcl_init {
    new app = directors.round_robin();
    app.add_backend(app1);
    app.add_backend(app2);
}

# compose.yaml gives the backend network this subnet; the published port is on another
# network. The subnet's gateway is never an instance.
acl purgers {
    "127.0.0.1";
    "172.28.5.0"/24;
    ! "172.28.5.1";
}
