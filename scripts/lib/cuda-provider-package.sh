# The npm package that carries onnxruntime's CUDA provider, pinned. Sourced by setup-gpu.sh and gpu-bundle.sh.
# Its provider libraries are built for onnxruntime 1.29.0 (the onnxruntime-node version packages/graph pins) and
# CUDA 13 + cuDNN 9. The integrity is the registry's sha512 of the tarball, checked again after download.
CUDA_PROVIDER_PACKAGE=com.github.asus4.onnxruntime.linux-x64-gpu
CUDA_PROVIDER_VERSION=0.4.9
CUDA_PROVIDER_INTEGRITY=sha512-FopIhNE/Ng+v2X65wVc9clPCBCvhvA53Hxo2U0Kf5fGdVsC7iCA+mZ0KLWggcQAj7TIZ6pNidR4AC10g74Xo6w==
CUDA_PROVIDER_FILES="libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so"
CUDA_PROVIDER_DIR_IN_PACKAGE=package/Plugins/Linux/x64

# Folder of onnxruntime-node's binding and libonnxruntime.so: onnxruntime loads provider libraries from there.
ort_binding_dir() {
  node -e 'const p=require("path");console.log(p.join(p.dirname(require.resolve("onnxruntime-node")),"..","bin","napi-v6",process.platform,process.arch))'
}

# npm pack <package> into $1 (npm's own cache makes a second call free) and check the pinned integrity.
fetch_cuda_provider_tarball() {
  local dest=$1 tgz got
  tgz=$(cd "$dest" && npm pack --silent "$CUDA_PROVIDER_PACKAGE@$CUDA_PROVIDER_VERSION" | tail -1)
  got="sha512-$(openssl dgst -sha512 -binary "$dest/$tgz" | base64 -w0)"
  if [ "$got" != "$CUDA_PROVIDER_INTEGRITY" ]; then
    echo "cuda provider: $tgz has integrity $got, expected $CUDA_PROVIDER_INTEGRITY" >&2
    return 1
  fi
  echo "$dest/$tgz"
}
