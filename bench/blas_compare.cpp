#include <chrono>
#include <cstdio>
#include <vector>
#include <algorithm>
#include <omp.h>
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
double now(){return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();}
int main(){
  omp_set_num_threads(2); openblas_set_num_threads(2);
  printf("| M | K | N | layout | oneDNN GFLOP/s | OpenBLAS GFLOP/s |\n|---|---|---|---|---|---|\n");
  for (long M : {128L, 1L})
  for (auto [K,N] : std::vector<std::pair<long,long>>{{768,2304},{768,768},{768,3072},{3072,768},{768,50257}}) {
    std::vector<float> w(N*K, 0.01f), x(M*K, 1.0f), y(M*N);
    for (int tr=0; tr<2; tr++) {
      double bd=1e9, bo=1e9;
      for(int r=0;r<7;r++){
        double t=now(); dnnl_sgemm('N',tr?'T':'N',M,N,K,1.f,x.data(),K,w.data(),tr?K:N,0.f,y.data(),N); bd=std::min(bd, now()-t);
        t=now(); cblas_sgemm(CblasRowMajor, CblasNoTrans, tr?CblasTrans:CblasNoTrans, M,N,K,1.f,x.data(),K,w.data(),tr?K:N,0.f,y.data(),N); bo=std::min(bo, now()-t);
      }
      printf("| %ld | %ld | %ld | %s | %.1f | %.1f |\n", M,K,N, tr?"W (N,K)":"W (K,N)", 2.0*M*N*K/bd/1e9, 2.0*M*N*K/bo/1e9);
    }
  }
}
