#include "dist/communicator.h"

// The C API only: OpenMPI and MPICH would otherwise pull in their deprecated C++ bindings.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "core/error.h"

namespace lmf::dist {

namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  fail(ErrorCode::kIo, "MPI {} failed: {}", what, std::string(msg, static_cast<size_t>(len)));
}

// MPI counts are int: large buffers go in pieces.
template <class T>
void allreduce(T* x, int64_t n, MPI_Datatype type) {
  constexpr int64_t kChunk = INT_MAX / 2;
  for (int64_t i = 0; i < n; i += kChunk) {
    const int count = static_cast<int>(std::min(kChunk, n - i));
    check(MPI_Allreduce(MPI_IN_PLACE, x + i, count, type, MPI_SUM, MPI_COMM_WORLD), "Allreduce");
  }
}

}  // namespace

bool launched_by_mpi() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr ||
         std::getenv("PMIX_RANK") != nullptr;
}

Communicator::Communicator() {
  if (!launched_by_mpi()) return;
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited) {
    check(MPI_Init(nullptr, nullptr), "Init");
    owns_init_ = true;
  }
  // Errors come back as return codes (turned into lmf::Error), not an abort inside MPI.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "Comm_size");
  mpi_ = true;
}

Communicator::~Communicator() {
  if (!owns_init_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void Communicator::allreduce_sum(float* x, int64_t n) {
  if (size_ > 1) allreduce(x, n, MPI_FLOAT);
}

void Communicator::allreduce_sum(double* x, int64_t n) {
  if (size_ > 1) allreduce(x, n, MPI_DOUBLE);
}

void Communicator::barrier() {
  if (size_ > 1) check(MPI_Barrier(MPI_COMM_WORLD), "Barrier");
}

void Communicator::abort(int code) {
  if (!mpi_ || size_ <= 1) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Abort(MPI_COMM_WORLD, code);
}

}  // namespace lmf::dist
