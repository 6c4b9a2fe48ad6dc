Kumana xun buzun kadomon pan man bun .
Kumana xun kadomon pan madowan run mowaxan kumana guzuxan .
Kumana xakon buzun kumana kan buzun runa mowaxan kumana maraxan .
Kadomon doguzun zuna kadomon kan dopan .
Kumana xakon kadomon zun zuna kaluxun mowaxan kumana maraxan .
Kumana gudon kumana xuna man dopan mowaxan kumana guzuxan .
Kumana kozun han kumana ludon man kaluxun mowaxan kumana kagun .
Kadomon kan buruhan kadomon wazun xaxun .
Kumana xupan man kadomon raman gukuxan mowaxan kumana guzuxan .
Kadomon xakon kadokon kumana kozun han waxuzun mowaxan kumana wamon .
Kumana mapan kumana rubuhan waxuzun .
Kadomon doguzun zuran kadomon mapan zuna xunau .
Kumana xun kumana xakon kaluxun .
Kumana ludon mapano kadomon zuzuxan gukuxan .
Kadomon mapan wakun kumana xun run mowaxan kumana wamon .
Kumana gudon kumana kozukan wagukon bun .
