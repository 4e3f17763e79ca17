// lmforge dist: the communicator data-parallel training sums gradients with.
//
// A Communicator is an owned object, not a singleton: the program makes one (the CLI's
// main() does, before any command runs) and passes it by reference to what needs it (the
// train and distill commands). A process started by mpirun (OpenMPI sets
// OMPI_COMM_WORLD_SIZE, PMI/Hydra launchers PMI_SIZE) joins MPI_COMM_WORLD: the constructor
// initializes MPI and the destructor finalizes it (RAII); any other process is a world of
// one and never touches MPI, so the library and the CLI run without mpirun. Errors of MPI
// calls become lmf::Error. A rank that fails must call abort() (main() does) so that the
// other ranks stop instead of waiting in a collective forever; a rank that is killed is
// handled by mpirun, which ends the job.
#pragma once

#include <cstdint>

namespace lmf::dist {

class Communicator {
 public:
  // Joins the world this process was started in (MPI_Init under a launcher, unless MPI is
  // initialized already). MPI is initialized once per process: make one per program.
  Communicator();
  // MPI_Finalize where this object initialized MPI (and nothing aborted or finalized it).
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool distributed() const { return size_ > 1; }

  // In place: x (n) = the sum of every rank's x, identical on every rank.
  void allreduce_sum(float* x, int64_t n);
  void allreduce_sum(double* x, int64_t n);
  void barrier();

  // Ends every rank of the job with `code` (MPI_Abort) when distributed; returns
  // otherwise. For a failing rank's error path (main()'s), so the others stop.
  void abort(int code);

 private:
  int rank_ = 0, size_ = 1;
  bool mpi_ = false;       // joined MPI_COMM_WORLD
  bool owns_init_ = false;  // this object called MPI_Init
};

// True when this process was started by an MPI launcher.
bool launched_by_mpi();

}  // namespace lmf::dist
