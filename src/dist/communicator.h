// lmforge dist: the communicator data-parallel training sums gradients with.
//
// A process started by mpirun (OpenMPI sets OMPI_COMM_WORLD_SIZE, PMI/Hydra launchers
// PMI_SIZE) joins MPI_COMM_WORLD; any other process is a world of one and never touches
// MPI, so the library and the CLI run without mpirun. Errors of MPI calls become
// lmf::Error. A rank that fails must call abort_world() (the CLI's main() does) so that
// the other ranks stop instead of waiting in a collective forever; a rank that is killed
// is handled by mpirun, which ends the job.
#pragma once

#include <cstdint>

namespace lmf::dist {

class Communicator {
 public:
  // The world this process belongs to (initializes MPI on first use under a launcher).
  static Communicator& world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool distributed() const { return size_ > 1; }

  // In place: x (n) = the sum of every rank's x, identical on every rank.
  void allreduce_sum(float* x, int64_t n);
  void allreduce_sum(double* x, int64_t n);
  void barrier();

 private:
  Communicator();
  int rank_ = 0, size_ = 1;
  bool mpi_ = false;
};

// True when this process was started by an MPI launcher.
bool launched_by_mpi();

// Ends every rank of the job with `code` (MPI_Abort) when running under MPI; returns
// otherwise. For main()'s error path.
void abort_world(int code);

// Finalizes MPI at a normal exit (a no-op without it).
void finalize();

}  // namespace lmf::dist
