# The lessons in teaching order (sourced by test.sh and lesson.sh). File names sort differently in two places:
# 07a (the UNet) is taught before 07 (DDPM), which uses it; 04a and 06a come after 04 and 06.
LESSONS="index 00_core 01_datasets 02_learner 03_init 04_accel 04a_checkpoint 04b_bench 05_resnet 06_fid 06a_diffusion 06b_sampling 06c_experiments
07a_unet 07_ddpm 08_cosine 09_no_t 10_karras 11_samplers 12_flows 13_consistency 14_tiny_imagenet 15_guidance 16_head_to_head 17a_autoencoder 17_latent_dit"

# What a lesson needs from an earlier one in the same run mode: "lesson:file under data/checkpoints (with MODE):the lesson that makes it",
# then, where the package ships a copy of the maker's published cpu-mode model, ":its file under miniai/weights" (used when the first is missing).
# Lessons 08 and 09 train the model they compare against when its file is missing; lessons 11 and 13 need lesson 10's denoiser, lesson 17 lesson 17a's autoencoder.
# tools/colab.py reads NEEDS too: in Colab, such a lesson's first cell names the notebook that makes the file.
NEEDS="11_samplers:10_karras_MODE.pt:10_karras 13_consistency:10_karras_MODE.pt:10_karras 17_latent_dit:17a_autoencoder_MODE.pt:17a_autoencoder:tiny_imagenet_autoencoder.pt"
