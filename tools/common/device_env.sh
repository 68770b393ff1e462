# tools/common/device_env.sh: sourced by tools/{validate,calibrate}/run_device.sh
# on the GPU machine, from a staged folder (stage.sh copies it): NVLink
# multicast off (NCCL_NVLS_ENABLE=0, as the device tool asks), and the
# library path for the staged fmt/yaml-cpp .so files (devlibs/), CUDA, and
# NCCL from the system or else PyTorch's nvidia-nccl wheel.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
device_libs=$PWD/devlibs:/usr/local/cuda/lib64
if ! ldconfig -p | grep -q libnccl.so.2; then
  device_libs=$device_libs:$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib"))' 2>/dev/null)
fi
export LD_LIBRARY_PATH=$device_libs:${LD_LIBRARY_PATH:-}
unset device_libs
