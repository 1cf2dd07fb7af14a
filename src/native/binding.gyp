{
  # nlsock: the raw AF_NETLINK socket shim (plain C against node_api.h and libuv, Linux only).
  # Built by src/native/build.mjs with `node-gyp rebuild --directory=src/native`;
  # output: src/native/build/Release/nlsock.node
  "targets": [
    {
      "target_name": "nlsock",
      "sources": ["nlsock.c", "progname.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "libraries": ["-lpthread"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
