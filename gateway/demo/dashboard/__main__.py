from gateway.demo.dashboard import main

main()
